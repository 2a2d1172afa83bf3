"""Amazon Rekognition's face API (JSON 1.1 over `POST /`, SigV4-signed), as a door over the same
services as `/v1`: routes, wire shapes from botocore's model, error mapping and the SigV4 reader."""
