"""PACS exports: tiny DICOM files (8x8 pixels, explicit VR little endian) in the PACS id namespace.

Only a bounded share of imaging studies get files (``SynthConfig.dicom_cap``); every study still
has its 影像报告 note with the same accession number.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian
from pypinyin import lazy_pinyin

from medlake.synth.clinical.base import uid
from medlake.synth.model import ImagingStudy, SystemIdentity
from medlake.synth.vocab import Vocab

SOP_CLASS = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
}
INSTANCES = {"CT": 3, "MR": 3, "DX": 1, "US": 2}


def pinyin_name(name: str) -> str:
    """``张三`` → ``ZHANG^SAN`` (family name first; 欧阳 and 司马 as two-character surnames)."""
    surname_len = 2 if name[:2] in ("欧阳", "司马") else 1
    family = "".join(lazy_pinyin(name[:surname_len])).upper()
    given = "".join(lazy_pinyin(name[surname_len:])).upper()
    return f"{family}^{given}"


class PacsWriter:
    def __init__(self, out: Path, vocab: Vocab, cap: int, seed: int) -> None:
        self.dir = out / "pacs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.vocab = vocab
        self.cap = cap
        self.seed = seed
        self.files = 0
        self.studies = 0

    def add(self, ident: SystemIdentity, study: ImagingStudy, visit_no: str) -> bool:
        """Write the study's files if it is sampled and under the cap; True when written."""
        exam = self.vocab.imaging[study.key]
        n = INSTANCES[exam.modality]
        if not study.write_dicom or self.files + n > self.cap:
            return False
        self.studies += 1
        chinese = int(study.accession[-1]) % 2 == 0
        series_dir = self.dir / study.study_uid / study.series_uid
        series_dir.mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            sop_uid = uid(self.seed, study.accession, "sop", i)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = UID(SOP_CLASS[exam.modality])
            meta.MediaStorageSOPInstanceUID = UID(sop_uid)
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            ds = Dataset()
            ds.file_meta = meta
            if chinese:
                ds.SpecificCharacterSet = "ISO_IR 192"
            ds.SOPClassUID = SOP_CLASS[exam.modality]
            ds.SOPInstanceUID = sop_uid
            ds.StudyDate = f"{study.time:%Y%m%d}"
            ds.StudyTime = f"{study.time:%H%M%S}"
            ds.AccessionNumber = study.accession
            ds.Modality = exam.modality
            ds.StudyDescription = exam.description
            ds.PatientName = ident.name if chinese else pinyin_name(ident.name)
            ds.PatientID = ident.local_id
            ds.IssuerOfPatientID = "PACS"
            ds.PatientBirthDate = f"{ident.birth:%Y%m%d}"
            ds.PatientSex = {"1": "M", "2": "F"}.get(ident.sex, "O")
            ds.BodyPartExamined = exam.body_part
            ds.StudyInstanceUID = study.study_uid
            ds.SeriesInstanceUID = study.series_uid
            ds.StudyID = study.accession[-8:]
            ds.SeriesNumber = 1
            ds.InstanceNumber = i
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows = 8
            ds.Columns = 8
            ds.BitsAllocated = 16
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            ds.PixelData = b"".join(
                ((x * 37 + i * 11 + len(visit_no)) % 4096).to_bytes(2, "little") for x in range(64)
            )
            ds.save_as(series_dir / f"{i}.dcm", enforce_file_format=True)
            self.files += 1
        return True
