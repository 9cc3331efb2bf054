"""State: where what deployctl last applied is kept, and how it is changed safely.

- ``protocol``: the ``StateBackend`` / ``StateSession`` seam every backend implements, and
  ``LockInfo``;
- ``backends``: where a state lives (``--state``, ``DEPLOYCTL_STATE``, the manifest's
  ``state:``, the default) and opening the backend for it;
- ``session_core``: what the three backends' locked sessions share (the state in memory between
  two commits, commit on exit); ``journal``: the journal entries all three write;
  ``lock_holder``: who holds a lock, as all three locks say it;
- ``local`` (with ``local_session``, ``local_history``, ``lock``, ``lock_takeover``,
  ``lock_files``): the JSON file backend;
- ``postgres`` (with ``postgres_session``, ``postgres_connection``, ``postgres_schema``): the
  PostgreSQL backend;
- ``s3`` (with ``s3_session``, ``s3_lock``, ``s3_history``, ``s3_store``): the S3-compatible
  backend;
- ``history``: committed versions and their one-line summaries; ``migrate``: copying a state,
  with its history, into another backend; ``schema``: validating state documents.

The document itself (``StateDocument``/``StateRecord``) is a value in ``deployctl.model.state``.
"""
