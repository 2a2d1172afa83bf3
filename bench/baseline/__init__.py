"""A face_recognition-style identify service, the comparison point of bench/http_load.py."""
