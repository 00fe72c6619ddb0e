"""Everything a file says about itself, read once in the hashing worker: its EXIF facts and its
C2PA Content Credentials (when it carries any).

Reading happens where the bytes already are (no second read of the file), after the picture is
decoded, so the embedded thumbnail can be compared with the working copy. The flags derived from
these facts, which need the claimed date and the match, are ``provcheck.matching.metadata_flags``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from provcheck.signals.c2pa import TrustList, read_credentials
from provcheck.signals.credentials import ContentCredentials
from provcheck.signals.exif import ExifFacts, read_exif

#: Pillow's format names and the MIME types c2pa-python reads them as.
MIME_OF_FORMAT = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}


@dataclass(frozen=True, slots=True)
class FileMetadata:
    #: None for a file whose format has no EXIF to read (a video): not the same as an image
    #: whose EXIF was stripped, which is ``ExifFacts(present=False)``.
    exif: ExifFacts | None = field(default_factory=ExifFacts)
    credentials: ContentCredentials | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "exif": self.exif.as_dict() if self.exif else None,
            "c2pa": self.credentials.as_dict() if self.credentials else None,
        }


def read_metadata(
    data: bytes,
    exif_block: bytes | None,
    picture: Image.Image | None = None,
    image_format: str | None = None,
    trust: TrustList | None = None,
) -> FileMetadata:
    """The metadata of one image file: ``data`` its bytes, ``exif_block`` the EXIF block Pillow
    found while decoding it (``exif.exif_block``), ``picture`` the upright working copy,
    ``image_format`` Pillow's name for the format. Never raises."""
    mime = MIME_OF_FORMAT.get(image_format or "")
    return FileMetadata(read_exif(exif_block, picture), read_credentials(data, mime, trust))
