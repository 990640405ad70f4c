"""Exports of bids and statements in file formats people and markets read."""
