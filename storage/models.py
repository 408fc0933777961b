"""peewee models over the schema that storage.migrations creates (the SQL there is the source of truth).

Models are bound to `DB`, a proxy that storage.db.open_database initialises. No secrets live in any table.
"""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    DatabaseProxy,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

DB = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = DB
        legacy_table_names = False


class Image(BaseModel):
    sha256 = TextField(unique=True)
    path = TextField()
    format = TextField()
    width = IntegerField()
    height = IntegerField()
    file_size = IntegerField()
    source = TextField(default="generated")
    provider = TextField(default="", index=True)
    model = TextField(default="", index=True)
    prompt = TextField(default="")
    negative_prompt = TextField(default="")
    seed = BigIntegerField(null=True)
    steps = IntegerField(null=True)
    cfg_scale = FloatField(null=True)
    sampler = TextField(default="")
    revised_prompt = TextField(default="")
    tags = TextField(default="")
    cost_usd = FloatField(null=True)
    request_id = TextField(default="")
    job_id = IntegerField(null=True)
    fallback_from = TextField(default="")
    source_path = TextField(default="")
    created_at = FloatField(index=True)
    favorite = BooleanField(default=False, index=True)
    rating = IntegerField(default=0, index=True)
    rejected = BooleanField(default=False)
    trashed_at = FloatField(null=True, index=True)


class ImageMeta(BaseModel):
    """The full request/parameters of an image, kept out of the rows that list queries scan."""

    image = ForeignKeyField(Image, on_delete="CASCADE", unique=True, backref="meta_rows")
    json = TextField()


class Collection(BaseModel):
    name = TextField(unique=True)  # case-insensitive uniqueness is enforced in code (casefold)
    created_at = FloatField()
    cover = ForeignKeyField(Image, null=True, on_delete="SET NULL")
    position = IntegerField(default=0)


class CollectionItem(BaseModel):
    collection = ForeignKeyField(Collection, on_delete="CASCADE", backref="items")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    position = IntegerField()
    added_at = FloatField()

    class Meta:
        indexes = ((("collection", "image"), True),)


class Job(BaseModel):
    created_at = FloatField()
    updated_at = FloatField()
    state = TextField(index=True)
    provider = TextField(default="")
    model = TextField(default="")
    request_json = TextField(default="{}")
    count = IntegerField(default=1)
    task_id = TextField(default="")
    task_json = TextField(default="")
    provider_chain = TextField(default="[]")  # JSON list of provider ids tried, in order
    error_kind = TextField(default="")
    error_message = TextField(default="")
    images_saved = IntegerField(default=0)
    fallback_from = TextField(default="")
    progress = FloatField(null=True)
    owner_pid = IntegerField(null=True)  # the process running the job (schema v3)


class UsageLedger(BaseModel):
    job = ForeignKeyField(Job, null=True, on_delete="SET NULL")
    provider = TextField()
    model = TextField(default="")
    status = TextField()
    images = IntegerField(default=0)
    latency_ms = IntegerField(null=True)
    estimated_usd = FloatField(null=True)
    reported_usd = FloatField(null=True)
    reported_raw = TextField(default="")
    request_id = TextField(default="")
    created_at = FloatField(index=True)


class Quota(BaseModel):
    """Daily/monthly caps per provider; provider "*" is the global cap; NULL = no limit."""

    provider = TextField(unique=True)
    images_per_day = IntegerField(null=True)
    usd_per_day = FloatField(null=True)
    usd_per_month = FloatField(null=True)


class ProviderSetting(BaseModel):
    provider = TextField(primary_key=True)
    base_url = TextField(default="")
    enabled = BooleanField(default=True)
    default_model = TextField(default="")
    settings_json = TextField(default="{}")


class AppSetting(BaseModel):
    key = TextField(primary_key=True)
    value_json = TextField()


ALL_MODELS: tuple[type[BaseModel], ...] = (
    Image, ImageMeta, Collection, CollectionItem, Job, UsageLedger, Quota, ProviderSetting, AppSetting,
)
