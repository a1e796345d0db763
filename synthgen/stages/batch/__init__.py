"""`synthgen batch status|cancel`: the Batch API jobs a state directory holds.

Batch mode itself runs inside every stage (core/batchrun.py, llm/batching.py); what lives
here are the commands over its jobs, which belong to no one stage and to all of them.
"""
