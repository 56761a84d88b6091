"""The BPO quality programme: vendors' decisions imported, sampled, graded in Slack, scored
with their uncertainty, fed back as clarifications, and the pod itself calibrated.

A domain package like the others: it takes a ``Desk`` (or its parts), queues Slack
writes in the outbox and never imports Slack. docs/qa.md explains the programme.
"""
