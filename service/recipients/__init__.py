"""SMS recipients: the subscriber registry and its selection by alert area."""
