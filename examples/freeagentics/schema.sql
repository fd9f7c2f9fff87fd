-- FreeAgentics base tables: what the application's migrations create.
-- pgrecon does not create tables; it manages their indexes, partitions and settings (schema.yaml).

CREATE TABLE IF NOT EXISTS agents (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    template        text NOT NULL,                 -- explorer, merchant, scholar, guardian
    status          text NOT NULL DEFAULT 'idle',  -- active, idle, paused, stopped
    last_active     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    inference_count integer NOT NULL DEFAULT 0,
    beliefs         jsonb NOT NULL DEFAULT '{}',   -- belief state, queried by containment (@>)
    metrics         jsonb NOT NULL DEFAULT '{}'    -- {"performance_score": 0.93, "steps": 1200, ...}
);

CREATE TABLE IF NOT EXISTS coalitions (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    status            text NOT NULL DEFAULT 'forming',  -- forming, active, disbanded
    performance_score double precision NOT NULL DEFAULT 0,
    cohesion_score    double precision NOT NULL DEFAULT 0,
    objectives        jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS agent_coalition (
    agent_id           uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    coalition_id       uuid NOT NULL REFERENCES coalitions (id) ON DELETE CASCADE,
    role               text NOT NULL DEFAULT 'member',  -- leader, member, observer
    joined_at          timestamptz NOT NULL DEFAULT now(),
    contribution_score double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, coalition_id)
);

-- Time series: partitioned by day on recorded_at; pgrecon keeps the partitions.
CREATE TABLE IF NOT EXISTS performance_metrics (
    agent_id    uuid NOT NULL,
    metric      text NOT NULL,                 -- inference_ms, reward, free_energy, ...
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL
) PARTITION BY RANGE (recorded_at);

CREATE TABLE IF NOT EXISTS performance_metrics_default PARTITION OF performance_metrics DEFAULT;
