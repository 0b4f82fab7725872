"""Source-system writers: HIS CSV/workbook, EMR notes and gold, LIS HL7, PACS DICOM, partner FHIR, truth.

Chunk-side functions (``add_his``, ``add_notes``, ``add_lis``, ``add_truth``) fill a chunk's buffers;
``OutputFiles`` appends finished chunks to the output files in chunk order.
"""
