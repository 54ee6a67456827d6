"""What the viewer hears: the source's audio kept, its voices disguised or muted, and chosen
spans silenced or bleeped (spans.py parses and checks the spans; voice.py edits the track
between demux and mux, timestamps kept so it stays in sync with the picture)."""
