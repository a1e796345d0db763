"""stages/audit"""
