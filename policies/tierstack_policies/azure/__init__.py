"""Azure policies, one module per family.

Not checked because Azure gives no choice: encryption at rest of storage accounts, managed disks,
Service Bus and PostgreSQL flexible servers (always on, platform keys).
"""
