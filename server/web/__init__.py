"""The browser page of the central service (/app): staff login, server-rendered templates, plain JS and CSS.

It gives connected sites the origin document's web page: a doctor enters findings in a browser (phone or desktop)
and reads the answer of /v1/predict, laid out like the desktop app's result. Nothing about the patient is stored.
"""
