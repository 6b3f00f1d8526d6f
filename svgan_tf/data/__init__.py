"""Datasets: real-clip sources and sampling, the demo videos, video files, dataset making."""
