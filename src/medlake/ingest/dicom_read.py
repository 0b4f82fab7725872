"""Reading one DICOM file's header (never its pixels) and checking that the file is whole.

``read_instance`` parses with pydicom, deferring every value over 1 KiB (so pixel data is
skipped, not loaded), and rejects with ``DicomUnreadable`` what pydicom would silently accept: a
file cut short (a top-level element running past the end of the file, pixel data without its
end), an image without pixel data, or a header without the UIDs that place it in a study.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, FloatPixelData, DoubleFloatPixelData
_SEQ_DELIMITER = b"\xfe\xff\xdd\xe0"
_UNDEFINED = 0xFFFFFFFF
_DEFLATED = "1.2.840.10008.1.2.1.99"


class DicomUnreadable(ValueError):
    """A file that is not DICOM, is truncated or lacks what places it (quarantined with this reason)."""


@dataclass
class Instance:
    sop_instance_uid: str
    image_series_uid: str
    image_study_uid: str
    instance_number: int | None
    patient_id: str
    patient_name: str
    birth_date: date | None
    sex: str
    accession_number: str
    modality: str
    body_part_examined: str
    image_date: date | None
    study_description: str
    series_description: str
    rows: int | None
    columns: int | None
    slice_thickness: float | None
    pixel_spacing: str
    manufacturer: str
    manufacturer_model: str
    series_number: int | None


def looks_like_dicom(head: bytes) -> bool:
    """'DICM' at offset 128, or a preamble-less dataset that pydicom parses into an identified instance."""
    if head[128:132] == b"DICM":
        return True
    if len(head) < 8 or head[:2] not in (b"\x08\x00", b"\x02\x00"):
        return False
    from io import BytesIO

    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(BytesIO(head), force=True, stop_before_pixels=True, defer_size=1024)
        return bool(ds.get("SOPInstanceUID") or ds.get("StudyInstanceUID"))
    except Exception:  # noqa: BLE001 - any parse failure means "not DICOM" for detection
        return False


def read_instance(path: Path) -> Instance:
    import pydicom
    from pydicom.dataelem import RawDataElement
    from pydicom.errors import InvalidDicomError

    size = path.stat().st_size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, defer_size=1024, force=not _has_preamble(path))
    except InvalidDicomError as exc:
        raise DicomUnreadable(f"not a DICOM file: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a corrupt file may fail anywhere inside pydicom: quarantine it
        raise DicomUnreadable(f"unreadable DICOM header: {type(exc).__name__}: {exc}") from exc
    deflated = str(getattr(ds.file_meta, "TransferSyntaxUID", "")) == _DEFLATED
    for elem in [] if deflated else list(ds._dict.values()):  # deflated: offsets are not file offsets
        if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED:
            continue
        if elem.value is None and elem.value_tell + elem.length > size:
            raise DicomUnreadable(
                f"truncated: element {elem.tag} runs past the end of the file ({size} bytes)"
            )
        if elem.value is not None and len(elem.value) < elem.length:
            raise DicomUnreadable(f"truncated: element {elem.tag} is shorter than its length")
    from pydicom.tag import Tag

    pixel = next((ds._dict.get(Tag(t)) for t in _PIXEL_TAGS if Tag(t) in ds._dict), None)
    if not deflated and isinstance(pixel, RawDataElement) and pixel.length == _UNDEFINED:
        with path.open("rb") as fh:
            fh.seek(pixel.value_tell)
            if _SEQ_DELIMITER not in fh.read():
                raise DicomUnreadable("truncated: encapsulated pixel data has no sequence delimiter")
    try:
        if pixel is None and ds.get("Rows"):
            raise DicomUnreadable("image header without pixel data (truncated file?)")
        inst = _instance(ds)
    except DicomUnreadable:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DicomUnreadable(f"unreadable DICOM header: {type(exc).__name__}: {exc}") from exc
    for name in ("sop_instance_uid", "image_series_uid", "image_study_uid"):
        if not getattr(inst, name):
            raise DicomUnreadable(f"missing {name} (truncated or incomplete header?)")
    return inst


def _has_preamble(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(132)[128:132] == b"DICM"


def _instance(ds: Any) -> Instance:
    spacing = ds.get("PixelSpacing")
    return Instance(
        sop_instance_uid=_s(ds, "SOPInstanceUID"),
        image_series_uid=_s(ds, "SeriesInstanceUID"),
        image_study_uid=_s(ds, "StudyInstanceUID"),
        instance_number=_int(ds.get("InstanceNumber")),
        patient_id=_s(ds, "PatientID"),
        patient_name=_person_name(ds.get("PatientName")),
        birth_date=_date(_s(ds, "PatientBirthDate")),
        sex=_s(ds, "PatientSex").upper()[:1],
        accession_number=_s(ds, "AccessionNumber"),
        modality=_s(ds, "Modality"),
        body_part_examined=_s(ds, "BodyPartExamined"),
        image_date=_date(_s(ds, "SeriesDate") or _s(ds, "StudyDate") or _s(ds, "AcquisitionDate")),
        study_description=_s(ds, "StudyDescription"),
        series_description=_s(ds, "SeriesDescription"),
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        slice_thickness=_float(ds.get("SliceThickness")),
        pixel_spacing="\\".join(f"{float(v):g}" for v in spacing) if spacing else "",
        manufacturer=_s(ds, "Manufacturer"),
        manufacturer_model=_s(ds, "ManufacturerModelName"),
        series_number=_int(ds.get("SeriesNumber")),
    )


def _s(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    return str(value).strip() if value is not None else ""


def _person_name(value: Any) -> str:
    """``ZHANG^SAN`` → ``ZHANG SAN``; Chinese ``张^三`` → ``张三``."""
    if value is None:
        return ""
    parts = [p for p in str(value).split("=")[0].split("^") if p]
    if any("\u4e00" <= ch <= "\u9fff" for p in parts for ch in p):
        return "".join(parts)
    return " ".join(parts)


def _date(text: str) -> date | None:
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
