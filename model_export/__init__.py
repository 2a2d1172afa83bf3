"""Offline export of the pretrained face models (dlib ResNet, MTCNN) to ONNX, with parity proofs.

Needs the ``export`` extra (torch, onnx, onnxscript, face-recognition-models, dlib-bin). MTCNN's
weights come from the facenet-pytorch 2.6.0 wheel, which no extra can name (its own pins
contradict ours): installed with ``--no-deps`` when present, else fetched by pip on first export
(``model_export.sources.mtcnn_weights``). The service itself only reads the resulting ``models/``
folder. Entry point: ``model_export.export.export_all``.
"""
