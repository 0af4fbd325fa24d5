-- The nodes that take commands from other nodes over HTTP (package cluster): a node started
-- with a call URL (EVROAM_NODE_URL) registers it here, and a node that forwards a command
-- to it reads it with the station's owner, in the same statement. A node without a row is
-- reached through command_calls and NOTIFY, as before.
CREATE TABLE cluster_nodes (
    node_id    text PRIMARY KEY,
    call_url   text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
