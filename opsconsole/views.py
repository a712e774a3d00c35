from django.db import connection
from django.http import JsonResponse


def plain_health(request):
    """``GET /health`` for load balancers: 200 while the process and its database answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "unhealthy", "database": exc.__class__.__name__}, status=503)
    return JsonResponse({"status": "ok"})
