"""Signals: what provcheck reads off a picture. ``hashes`` (perceptual hashes: value objects,
hashers declaring their contract as data, a registry), ``keypoints`` (ORB, for partial copies),
``fingerprint`` (all of a picture's signals; a query's variants), ``inner_picture`` (the photo
inside a screenshot, letterbox trimmed), ``thumbnail`` (small previews), ``heap`` (glibc settings
for PDQ's temporaries). What a file says about itself: ``exif`` and ``exif_thumbnail``, ``c2pa``
and ``credentials``, both read by ``metadata``."""
