"""Who is who over time: ByteTrack ids and the hold (tracking), scene cuts in a file run (cuts) and for the live masker (scene), motion forecasts for live (motion)."""
