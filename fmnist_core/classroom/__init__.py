"""A class on one server: the teacher's roster (one row per person) and deleting a person's runs."""
