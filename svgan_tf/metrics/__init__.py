"""Evaluation metrics: FVD (I3D), FID (Inception-v3), computed offline as the reference protocol."""
