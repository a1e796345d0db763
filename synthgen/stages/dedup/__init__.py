"""stages/dedup"""
