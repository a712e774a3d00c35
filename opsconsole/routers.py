from channels_lite.router import ChannelsRouter


class ChannelLayerRouter(ChannelsRouter):
    """channels_lite's tables live only in the channel-layer database, and nothing else does."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label in self.route_app_labels:
            return db == self.database
        return db != self.database
