"""Covering people: maskers (mosaic, blur, fill), the render stage, people left unmasked, the follow-cam crop."""
