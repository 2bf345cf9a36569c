"""Reports the central service makes for the health system: the DHIS2 weekly aggregate (dhis2.py)."""
