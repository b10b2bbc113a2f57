"""Sections more than one page shows: the why panel and the synthesised inputs."""
