"""Tracking: who is who from frame to frame (ByteTrack ids, the hold across misses, scene cuts)."""
