"""Migration operations shared by the apps.

``AddIndexOnline``: ``AddIndex`` that builds the index ``CONCURRENTLY`` on Postgres, so a release adding an
index to a big table (sync logs: millions of rows a day per 1,000 units) does not block its writes, and
with them every push, while it builds. Elsewhere (SQLite, embedded mode) a plain ``AddIndex``. A migration
using it must be ``atomic = False``: Postgres builds a concurrent index outside a transaction.
"""

from __future__ import annotations

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            # IF NOT EXISTS: a concurrent build that failed half way leaves an invalid index to drop by hand;
            # one that was interrupted after it finished is not built twice.
            schema_editor.execute(
                self.index.create_sql(model, schema_editor, concurrently=True)
                .__str__()
                .replace("CREATE INDEX CONCURRENTLY", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1)
            )
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)

    def describe(self):
        return f"{super().describe()} (concurrently on Postgres)"
