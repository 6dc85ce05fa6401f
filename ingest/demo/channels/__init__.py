"""One writer per channel; each writes ``landing/<channel>/...`` and returns truth parts."""
