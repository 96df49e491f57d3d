"""Clinical interoperability: DICOM de-identification, FHIR and DICOM SR export.

- :mod:`resorb.interop.deid`: DICOM PS3.15 Basic Application Level
  Confidentiality Profile with the Modified Dates option (pydicom).
- :mod:`resorb.interop.fhir`: FHIR Observation and DiagnosticReport resources
  of volumes, resorption and ODI (fhir.resources, R4B).
- :mod:`resorb.interop.sr`: DICOM SR TID 1500 measurement reports of herniation
  volume referencing the DICOM SEG (highdicom).

The submodules import their heavy dependencies only when used.
"""

__all__: list[str] = []
