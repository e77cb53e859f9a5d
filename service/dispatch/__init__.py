"""Dispatch planning: from an approved alert to jobs for every operator and channel."""
