from datetime import time

from pydantic import Field, model_validator

from eungdapso_platform.settings import Port, ServiceSettings
from eungdapso_sla.calendar import WorkingHours


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    http_port: Port = 8003

    # --- Working hours (국가공무원 복무규정 제9조 by default): "a day" counted in hours is
    # their length, 8 by default.
    working_day_start: time = time(9)
    working_day_end: time = time(18)
    lunch_start: time = time(12)
    lunch_end: time = time(13)

    # --- Warnings and breaches (scheduler.py)
    #: A deadline is warned once this share of its period has passed, and again one working
    #: hour before it falls due.
    warn_at_share: float = Field(default=0.75, gt=0, lt=1)
    #: How often the scheduler looks for warnings and breaches that fell due.
    scheduler_interval_s: float = Field(default=1.0, gt=0, le=60)
    scheduler_batch_size: int = Field(default=500, ge=1, le=10_000)

    @model_validator(mode="after")
    def _hours_are_coherent(self) -> "SlaSettings":
        try:
            self.working_hours()
        except ValueError:
            raise ValueError(
                "working hours need WORKING_DAY_START < LUNCH_START <= LUNCH_END < WORKING_DAY_END"
            ) from None
        return self

    def working_hours(self) -> WorkingHours:
        return WorkingHours(self.working_day_start, self.working_day_end, self.lunch_start, self.lunch_end)
