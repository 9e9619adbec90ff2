"""The one ``receipt`` command: ``main`` builds the group and is its only error edge."""
