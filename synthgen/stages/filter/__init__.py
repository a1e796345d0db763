"""stages/filter"""
