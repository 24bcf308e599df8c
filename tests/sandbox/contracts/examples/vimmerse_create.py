# Source: https://vimmerse-api.redoc.ly/tag/Media (= /work/shared/api-docs/vimmerse.txt): "Copy and run
# this as-is, then replace only YOUR_API_KEY." Verbatim but for the indentation of the
# blocks, which the page's text extraction lost and Python needs (restored, nothing else).
import requests
BASE_URL = "https://api.vimmerse.net"
API_KEY = "YOUR_API_KEY"
url = f"{BASE_URL}/v2/media"
headers = {
    "X-Api-Key": API_KEY,
    "Content-Type": "application/json",
}
payload = {
    "title": "Product Launch Clip",
    "description": "Short cinematic intro for a new product",
    "prompt": "Smooth camera move around a premium smartwatch on a dark studio background with soft rim light",
    "video_tool": "Auto",
    "duration": 5,
    "quantity": 1,
    "loop": 1,
    "aspect_ratio": "16:9",
    "audio_option": {
        "narrator": "Sarah",
        "narration": "Introducing the next generation of smart performance."
    }
}
response = requests.post(url, headers=headers, json=payload, timeout=60)
response.raise_for_status()
result = response.json()
print(result)
