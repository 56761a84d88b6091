"""Opening tickets: the modal, drafts, content references, duplicates, reporters' view."""
