"""Vereda in the health system's languages: FHIR R4 bundles (fhir.py), GA4GH Phenopackets v2 (phenopacket.py),
spreadsheets of the patient register and of encounters (spreadsheets.py) and the weekly notifiable-disease report
(notifiable.py).

No Qt here: the CLI (app/cli/export.py) and the app both call these. Records come in as the store's frozen records
(app/store/records.py), never ORM rows; what names the conditions and symptoms is the model bundle's vocabulary.
"""
