"""provcheck: flag images and video frames that are recycled game captures or archived footage."""

__version__ = "0.1.0"
