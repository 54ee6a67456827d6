"""Who is who over time: track ids (ids: ByteTrack, and an id for every other box), the hold
and look-ahead (tracking), scene cuts in a file run (cuts) and for the live masker (scene),
motion forecasts for live (motion)."""
