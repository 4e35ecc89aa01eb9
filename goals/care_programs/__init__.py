"""Care programs: a plan with daily targets for one person, its adherence score per day and its
daily logs. A folder of the goals app (models register with `goals`: app label and tables are
the goals app's), laid out like an app: models, programs (rules and writes), program_logs,
admin, views (pages), receivers, tasks, api/."""
