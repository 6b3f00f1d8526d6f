"""Evaluation metrics, computed offline as the reference protocol: FVD (I3D), FID and KID (Inception-v3 features),
IS (Inception-v3 classifier) and the video IS (C3D UCF101); the KID / IS arithmetic is in ``scores``."""
