"""Datasets: frame sampling, frame sources (folder, zip, TFRecord, demo), the real-clip pipeline, video files,
making and checking datasets."""
