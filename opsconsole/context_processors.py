from django.conf import settings


def console(request):
    return {"collection_interval": settings.METRICS_COLLECTION_INTERVAL}
