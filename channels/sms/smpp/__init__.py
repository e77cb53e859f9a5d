"""SMPP 3.4: PDU codec, ESME session, gateway adapter."""
