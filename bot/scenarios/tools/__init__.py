"""Clip synthesis (make_clips.py), room layout (build_rooms.py) and ground truth (truth.py)."""
