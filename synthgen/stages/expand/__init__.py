"""stages/expand"""
