"""Alert intake, storage, the reference chain, and the approval lifecycle."""
