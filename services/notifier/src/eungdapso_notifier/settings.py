from eungdapso_notifier.broadcast_delivery import BroadcastSettings
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_platform.settings import Port, ServiceSettings


class NotifierSettings(ServiceSettings, ProviderSettings, BroadcastSettings):
    service_name: str = "notifier"
    http_port: Port = 8004
