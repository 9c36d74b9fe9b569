"""Authoring: what course authors write is read here (solution markers, lessons)."""
